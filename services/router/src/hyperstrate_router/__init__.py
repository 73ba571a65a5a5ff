"""hyperstrate router.

Routers, targets, features, interceptors and the inference pipeline.
"""
