"""The web layer, the only code that imports FastAPI or Starlette: routes, schemas, settings,
body reading, responses, middleware, and refusals turned into status codes."""
