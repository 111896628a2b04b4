"""Operations: structured logging helpers, Prometheus metrics, the /metrics + /healthz server, graceful shutdown."""
