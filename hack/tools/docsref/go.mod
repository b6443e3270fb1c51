module phase4.io/hack/tools/docsref

go 1.26.0

require go.yaml.in/yaml/v3 v3.0.4
