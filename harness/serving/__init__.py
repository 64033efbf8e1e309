"""A router that leaves the harness: trained once on all labels (:mod:`.trained`), a score
threshold calibrated to a share of strong calls (:mod:`.calibration`), and the MLflow pyfunc
model that routes prompts and is served by ``mlflow models serve`` (:mod:`.model`)."""
