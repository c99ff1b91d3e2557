"""The pipeline steps, in the order a cut flows through them: background, composite, encode, edit.

Each step takes resolved specs (``compositor.spec``) and writes where ``compositor.layout`` says; the CLI and
the public API (``compositor``) sit on top of them."""
