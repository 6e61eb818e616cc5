# The greenfleet binary in a small image: worker, simulator and CLI.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p greenfleet

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/greenfleet /usr/local/bin/greenfleet
ENTRYPOINT ["greenfleet"]
