"""intermask_lite.viz"""
