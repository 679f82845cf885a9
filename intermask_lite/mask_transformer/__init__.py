"""intermask_lite.mask_transformer"""
