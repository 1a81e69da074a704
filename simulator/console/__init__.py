"""The instructor's console (``crisis-sim console``): the class live from the records store,
one trainee's transcript as it happens, flags for the debrief, and cohort analytics.

``live`` reads the store and builds what is shown (no textual, so it is tested and benchmarked
alone); ``app`` is the Textual front end over it.
"""
