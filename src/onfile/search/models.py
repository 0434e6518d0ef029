"""No Django models: the index lives in the database beside the message table (schema.py).

This module exists so that Django sends this app ``post_migrate`` (it skips apps without one).
"""
