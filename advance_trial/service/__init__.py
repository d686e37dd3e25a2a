"""The allocation service: accounts, the ASGI app and its pages (imported only by ``serve`` and ``users``)."""
