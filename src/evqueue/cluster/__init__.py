"""evqueue.cluster"""
