"""evqueue.cli"""
