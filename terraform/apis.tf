# Google APIs the pipeline uses. disable_on_destroy = false: removing this configuration must
# never switch off an API that other workloads in the project may rely on.

locals {
  apis = toset([
    "bigquery.googleapis.com",            # datasets, load jobs, dbt queries
    "bigquerystorage.googleapis.com",     # Storage Read API (Power BI connector, dbt-bigquery reads)
    "storage.googleapis.com",             # landing bucket for the CSV drops
    "iam.googleapis.com",                 # service accounts
    "iamcredentials.googleapis.com",      # short-lived tokens for the service accounts
    "run.googleapis.com",                 # Prefect worker service and the flow-run jobs
    "secretmanager.googleapis.com",       # Prefect API key for the worker
    "cloudresourcemanager.googleapis.com" # project-level IAM bindings
  ])
}

resource "google_project_service" "this" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
