"""``python -m hrcn_lib.train``: a library package, not a command; says which commands to run."""

raise SystemExit("hrcn_lib.train is a library package: run `hrcn train ...` or "
                 "`torchrun --nproc_per_node=K -m hrcn_lib.cli.train ...`")
