"""The web edge: every HTTP concern, over the domain packages.

`app.build_app` composes the routes of `ingestion`, `operations`, `explorer`, `experiments`,
`metrics`, `lifecycle`, `sdk` and `dashboard`; each is a list of `auth.ApiRoute` naming its
credential, guarded by `auth.Guards`; bodies are read within limits by `bodies`; domain
errors become responses in one table, `errors`; `responses` builds the JSON bodies.
"""
