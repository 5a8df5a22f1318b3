"""What the code generators of both backends share: `plan` groups a spec's steps into block classes,
`naming` makes every emitted name legal and unique, and `source` runs generated source as a module
(the live models are the code `compile` writes)."""
