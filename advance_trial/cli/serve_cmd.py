"""``advance-trial serve``: the allocation service (uvicorn and Starlette, imported only here)."""

from pathlib import Path

import typer

from advance_trial.cli._options import CONFIG_ARG, DB, KEY_DIR


def serve(
    config: Path = CONFIG_ARG,
    db: str | None = DB,
    key_dir: Path | None = KEY_DIR,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback unless told otherwise)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on.", min=1, max=65535),
    certfile: Path | None = typer.Option(None, "--certfile", help="TLS certificate (PEM): serve HTTPS itself."),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="TLS private key (PEM) of --certfile."),
    data: Path | None = typer.Option(None, "--data", help="Canonical data folder (randomisation.require_eligible)."),
    access_log: bool = typer.Option(False, "--access-log", help="Log every request's path (participant ids too)."),
    training: bool = typer.Option(
        False, "--training", help="Serve the training log (randomise init --training): every page says TRAINING."
    ),
) -> None:
    """Serve the trial's allocation: a JSON API and pages for research assistants, over its log's database.

    The log must exist (randomise init) and verify; accounts come from `advance-trial users`. Behind a TLS
    reverse proxy on the same machine, the proxy's X-Forwarded-Proto is trusted (cookies become Secure).
    """
    from advance_trial.cli._options import load_ring
    from advance_trial.cli._render import shown, stdout
    from advance_trial.config import load_config
    from advance_trial.errors import UsageError
    from advance_trial.randomisation.allocation import log_path

    if (certfile is None) != (keyfile is None):
        raise UsageError("--certfile and --keyfile go together")
    for path in (certfile, keyfile):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file")
    cfg = load_config(config)
    if training:
        from advance_trial.randomisation.training import training_key

        cfg, ring, where = training_key(cfg, key_dir, db)
    else:
        where = log_path(cfg, db)
        ring = load_ring(cfg, key_dir, db, data=data)
    import uvicorn

    from advance_trial.service.app import create_app

    app = create_app(cfg, ring, where, data_dir=data, training=training)
    scheme = "https" if certfile else "http"
    stdout.print(f"serving {shown(cfg.trial.id)} on {scheme}://{host}:{port} (log {shown(where.shown)}); Ctrl-C stops")
    uvicorn.run(app, host=host, port=port, ssl_certfile=str(certfile) if certfile else None,
                ssl_keyfile=str(keyfile) if keyfile else None, proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                access_log=access_log, log_level="warning", server_header=False)  # fmt: skip
