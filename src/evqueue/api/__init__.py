"""evqueue.api"""
