"""`python -m training.prep`: the Spark preprocessing job (training.prep.preprocess)."""

from training.prep.preprocess import main

raise SystemExit(main())
