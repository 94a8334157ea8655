"""What every worker process does around its tasks: receive each task's typed message (or record why it is
not one) and drop queue items that are not tasks at all ("poison messages").

Installed explicitly by the worker entry points (``input_worker.app``, ``trainer_worker.app``).
"""
