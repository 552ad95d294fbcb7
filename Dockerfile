# The netconform image: one static binary that is the manager, the probe and the
# fixture server. Probe pods run it as /netconform probe.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY probes/ probes/
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/netconform/netconform/internal/version.Version=${VERSION}" \
      -o /out/netconform ./cmd/netconform

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/netconform /netconform
USER 65532:65532
ENTRYPOINT ["/netconform"]
