# The pylon binary in a small image: `docker build -t pylon:0.1.0 .`
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin pylon

FROM debian:bookworm-slim
COPY --from=build /src/target/release/pylon /usr/local/bin/pylon
ENTRYPOINT ["/usr/local/bin/pylon"]
