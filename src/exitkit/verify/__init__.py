"""Verification: does the target hold exactly what the source holds?"""
