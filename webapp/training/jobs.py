"""Training-area job kinds (queues: ``CELERY_TASK_ROUTES``; training on batch, the rest interactive)."""

from webapp.jobs.kinds import job_type

CLASSIFIER = job_type("training", "classifier", "Classifier training",
                      stopping="Cancelling… (saving the best model)")
PREDICT = job_type("training", "predict", "Prediction")
ACTIVATIONS = job_type("training", "activations", "Activation maps")
EMBEDDING = job_type("training", "embedding", "Embedding training",
                     stopping="Cancelling… (keeping the best embedding so far)")
OCR = job_type("training", "ocr", "Text-line reader training",
               stopping="Cancelling… (keeping the best reader so far)")
READ = job_type("training", "read", "Text-line reading")
DETECTOR = job_type("training", "detector", "Detector training",
                    stopping="Cancelling… (keeping the best detector so far)")
