"""The typed contract of /api/v1: one pydantic model per request and response body, a module per resource.

The same models validate requests (``visualization_web.api.contract``) and make the OpenAPI document; views
return response models, so a response that breaks the contract fails where it is built, never on a client.
"""
