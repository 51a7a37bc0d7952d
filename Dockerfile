# scbridge container images, all from one Dockerfile (docker-compose.yml and
# scripts/container-test.sh build each target):
#   build    the compiler and -dev packages; compiles scbridge and the sims
#   runtime  scbridge alone: runtime libraries, tini, curl for HEALTHCHECK,
#            non-root, nothing written to the root filesystem
#   sim      the same libraries with sim-sc, sim-ddi and socat (compose
#            "sim" profile)
#   lb       HAProxy in front of the replicas (deploy/haproxy.cfg)
#   redis    Redis with deploy/redis.conf (AOF, noeviction)
#   scbridge the default target, the same image as runtime
# BASE is debian:bookworm-slim: from a registry, or a local image of that
# name built with debootstrap where none is reachable (the container test
# does that). Packages come from install-deps.sh, as for the Makefile.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
LABEL org.scbridge.stage=build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN sh /src/scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
ARG GIT_SHA=unknown
RUN make -j2 MODE=rel BUILD_DIR=/out GIT_SHA="${GIT_SHA}" \
        /out/rel/scbridge /out/rel/sim-sc /out/rel/sim-ddi \
    && strip /out/rel/scbridge /out/rel/sim-sc /out/rel/sim-ddi

# The runtime libraries and the scbridge user, shared by runtime and sim.
FROM ${BASE} AS runtime-base
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN sh /tmp/install-deps.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/install-deps.sh \
    && groupadd --system --gid 10001 scbridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin scbridge
LABEL org.scbridge.stage=runtime-base

FROM runtime-base AS runtime
LABEL org.scbridge.stage=runtime
COPY --from=build /out/rel/scbridge /usr/local/bin/scbridge
# The image's own defaults (operations.md): webhooks on 8080, probes,
# metrics and /admin on 9090. Everything else comes from the environment.
ENV SCBRIDGE_LISTEN=0.0.0.0:8080 SCBRIDGE_ADMIN_LISTEN=0.0.0.0:9090
USER 10001:10001
EXPOSE 8080 9090
# /livez on whichever listener serves it (the admin one when set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD a="${SCBRIDGE_ADMIN_LISTEN:-${SCBRIDGE_LISTEN:-0.0.0.0:8080}}"; \
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${a##*:}/livez"
# tini is PID 1: it passes SIGTERM to scbridge, which drains and exits 0.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/scbridge"]

# The simulators, for the compose "sim" profile and the container test.
# They serve on 127.0.0.1 only; deploy/sim-run.sh puts socat in front.
FROM runtime-base AS sim
LABEL org.scbridge.stage=sim
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends socat >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=build /out/rel/sim-sc /out/rel/sim-ddi /usr/local/bin/
COPY deploy/sim-run.sh /usr/local/bin/sim-run
USER 10001:10001
ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/bin/sh", "/usr/local/bin/sim-run"]

# The load balancer in front of the replicas in docker-compose.yml.
FROM ${BASE} AS lb
LABEL org.scbridge.stage=lb
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends haproxy >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY deploy/haproxy.cfg /etc/haproxy/haproxy.cfg
USER haproxy
EXPOSE 8080 9090
ENTRYPOINT ["/usr/sbin/haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

# Redis as scbridge needs it (operations.md, "Redis").
FROM ${BASE} AS redis
LABEL org.scbridge.stage=redis
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends redis-server >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
    && mkdir -p /data && chown redis:redis /data
COPY deploy/redis.conf /etc/redis/scbridge.conf
USER redis
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=5 \
    CMD ["redis-cli", "ping"]
ENTRYPOINT ["redis-server", "/etc/redis/scbridge.conf"]

# The default target: scbridge itself.
FROM runtime AS scbridge
