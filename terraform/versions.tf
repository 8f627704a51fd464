# Required versions and providers. Works with Terraform >= 1.6 and OpenTofu >= 1.6.
# The providers' current majors. Nothing declared here uses what they removed: google 7 changed
# google_storage_bucket.retention_period (unused) and the default of
# google_project_service.disable_on_destroy (set explicitly in apis.tf); prefect 3 removed
# manifest_path, max_active_runs, catchup and billing_email (none used).

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 7.0"
    }
    prefect = {
      source  = "prefecthq/prefect"
      version = "~> 3.0"
    }
  }

  # Partial configuration: the state bucket is given at init time, e.g.
  #   terraform init -backend-config="bucket=<project>-tfstate" -backend-config="prefix=nightjar"
  # The bucket is created once by hand (see docs/operations.md, "Bootstrap the state bucket").
  backend "gcs" {}
}
