"""The path to an AWS account: stacks in deploy order, a dry run, the stage configuration."""
