"""intermask_lite.baselines"""
