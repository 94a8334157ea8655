"""What people do to the training data and what follows: label and persona actions with their events
(``actions``), the retrain they trigger (``retrain_trigger``) and the privacy erase that reaches every copy
(``privacy_erase``)."""
