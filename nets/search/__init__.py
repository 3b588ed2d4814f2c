"""Hyperparameter search on Optuna for both networks (no Qt; optuna imported lazily).

``space``     what is searched: float (linear or log), integer and choice ranges, SPACE.json
``objective`` one trial: a training run through the trainer's generator, reporting the
              validation accuracy after every epoch (pruning); the test split stays out
``storage``   where a study lives: a journal file under the user's data folder by default,
              or a database URL (postgresql://, mysql://, sqlite:///) that many machines share
``worker``    the process that runs trials (``python -m nets.search.worker JOB.json``)
``pool``      K such processes, cancelled together, none left behind
``watch``     every read of a study for a viewer (opening, trials, importances), in one
              generator a GUI runs off its own thread
``cli``       ``backprop-explorer mlp search`` and ``cnn search``
"""
