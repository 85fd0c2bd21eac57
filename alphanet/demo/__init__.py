"""The try-it page: `make demo` (or `python -m alphanet.demo`) serves a page where you drop photos and see their
cutouts, from the running TorchServe or Triton.

The page is static (page.html, page.css, page.js: no build step). The launcher serves it and passes each of
its requests on to the inference server, so the page and the API it calls share one origin. TorchServe's CORS
settings cannot do this job: a browser sends an `Authorization` header only after a preflight `OPTIONS`
request, which carries no key, and TorchServe's token check refuses it, so a page on another origin could never
use the production profile's key. Passing requests on also lets the page speak to Triton's `alphanet_cutout`,
whose binary tensor protocol a browser cannot easily write.
"""
