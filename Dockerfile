# Multi-stage build: compile in the Rust image, run as a non-root user in a slim Debian image.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY core ./core
COPY src ./src
COPY migrations ./migrations
COPY config ./config
COPY openapi ./openapi
# bench/ is a workspace member: cargo loads every member's manifest before building anything.
COPY bench/Cargo.toml ./bench/Cargo.toml
COPY bench/src ./bench/src
RUN cargo build --release --locked --bin payrail

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin payrail
WORKDIR /app
COPY --from=build /src/target/release/payrail /usr/local/bin/payrail
COPY config ./config
RUN mkdir -p /app/data && chown payrail /app/data
USER payrail
ENV ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8080
EXPOSE 8080
# No curl in the slim image: bash asks GET /health over /dev/tcp and wants a 200 status line.
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf 'GET /health HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/payrail"]
CMD ["serve"]
