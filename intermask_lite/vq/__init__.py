"""intermask_lite.vq"""
