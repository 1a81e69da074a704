"""Scoring: rubrics, grading of decision logs, path analysis and debrief data.

Never imports textual: grades are pure functions of (scenario, rubric, decisions).
"""
