"""What people do with a checked spec, framework-free: draw it (`render`, and the HTML page of
`viewer`), compare two (`diff`) and run a grid of variants (`sweep`)."""
