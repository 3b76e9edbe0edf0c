"""evqueue.server"""
