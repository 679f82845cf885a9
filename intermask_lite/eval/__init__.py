"""intermask_lite.eval"""
