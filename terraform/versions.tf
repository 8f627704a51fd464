# Required versions and providers. Works with Terraform >= 1.6 and OpenTofu >= 1.6.

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    prefect = {
      source  = "prefecthq/prefect"
      version = "~> 2.0"
    }
  }

  # Partial configuration: the state bucket is given at init time, e.g.
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=nightjar"
  # The bucket is created once by hand (see docs/operations.md, "Bootstrap the state bucket").
  backend "gcs" {}
}
