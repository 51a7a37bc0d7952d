# scbridge container image: build stage with the compiler, runtime stage
# with only the runtime libraries. BASE is debian:bookworm-slim, or a local
# image of the same name built with debootstrap when no registry is
# reachable (scripts/container-test.sh does that).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN sh /src/scripts/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN make MODE=rel BUILD_DIR=/out /out/rel/scbridge /out/rel/sim-sc \
        /out/rel/sim-ddi \
    && strip /out/rel/scbridge /out/rel/sim-sc /out/rel/sim-ddi

FROM ${BASE} AS runtime
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN sh /tmp/install-deps.sh --runtime && rm -rf /var/lib/apt/lists/* \
        /tmp/install-deps.sh \
    && useradd --system --uid 10001 --no-create-home scbridge
COPY --from=build /out/rel/scbridge /usr/local/bin/scbridge
USER 10001
EXPOSE 8080 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9090/livez"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/scbridge"]

# The simulators, for the compose demo profile and the container test.
FROM runtime AS sim
COPY --from=build /out/rel/sim-sc /usr/local/bin/sim-sc
COPY --from=build /out/rel/sim-ddi /usr/local/bin/sim-ddi
ENTRYPOINT ["/usr/bin/tini", "--"]
