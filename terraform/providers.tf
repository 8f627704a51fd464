# Provider configuration. No credentials live here:
# - google reads Application Default Credentials (gcloud auth application-default login,
#   or the CI's Workload Identity Federation);
# - prefect reads PREFECT_API_KEY from the environment of whoever runs terraform.

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}

provider "prefect" {
  account_id   = var.prefect_account_id
  workspace_id = var.prefect_workspace_id
}

locals {
  labels = merge(
    {
      app         = "nightjar"
      environment = var.environment
      managed-by  = "terraform"
    },
    var.extra_labels,
  )
}
