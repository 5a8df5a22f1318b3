"""What the front end infers from the IR: every node's shape (`shapes`), its parameters and MACs
(`cost`), the tables of `archspec summary` (`summary`) and the stages of `feature_info` (`stages`)."""
