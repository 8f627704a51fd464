# ALL identities and ALL grants of this configuration, in one file.
#
#   identity            role                                 where
#   ------------------  -----------------------------------  -------------------------------------
#   pipeline-runner     roles/bigquery.dataEditor            datasets raw, staging, intermediate,
#                                                            marts, analytics (exactly those it
#                                                            writes; analytics by the publish)
#   pipeline-runner     roles/bigquery.jobUser               project (run load and query jobs)
#   pipeline-runner     roles/storage.objectViewer           landing bucket (read the CSV drops)
#   powerbi-reader      roles/bigquery.dataViewer            dataset analytics only
#   powerbi-reader      roles/bigquery.jobUser               project (DirectQuery runs query jobs)
#   powerbi-reader      roles/bigquery.readSessionUser       project (Storage Read API, used by the
#                                                            Power BI connector by default)
#   prefect-worker      roles/run.developer                  project (create/run the flow-run jobs)
#   prefect-worker      roles/iam.serviceAccountUser         pipeline-runner only (start jobs that
#                                                            run as the runner)
#   prefect-worker      roles/secretmanager.secretAccessor   the Prefect API key secret only
#
# Nothing here is granted to allUsers or allAuthenticatedUsers, and no dataset has an access
# block: dataset grants are additive google_bigquery_dataset_iam_member resources only.
# No service account key is created anywhere: the runner's credentials come from the metadata
# server of the Cloud Run job it runs in (see prefect.tf and docs/operations.md).

# --- Identities -------------------------------------------------------------------------------

resource "google_service_account" "pipeline_runner" {
  project      = var.project_id
  account_id   = "nightjar-pipeline-runner"
  display_name = "Nightjar pipeline runner"
  description  = "Runs the nightly flow: loads CSV drops into raw and builds the dbt models."
}

resource "google_service_account" "powerbi_reader" {
  project      = var.project_id
  account_id   = "nightjar-powerbi-reader"
  display_name = "Nightjar Power BI reader"
  description  = "Power BI DirectQuery identity: reads the analytics marts only."
}

resource "google_service_account" "prefect_worker" {
  project      = var.project_id
  account_id   = "nightjar-prefect-worker"
  display_name = "Nightjar Prefect worker"
  description  = "Polls the Prefect work pool and starts each flow run as a Cloud Run job running as the pipeline runner."
}

locals {
  runner_member  = "serviceAccount:${google_service_account.pipeline_runner.email}"
  powerbi_member = "serviceAccount:${google_service_account.powerbi_reader.email}"
  worker_member  = "serviceAccount:${google_service_account.prefect_worker.email}"

  # Exactly the datasets the pipeline writes: the ingest writes raw, the dbt prod target writes
  # staging, intermediate and marts, the publish step analytics. A structural test checks this
  # against the dbt project and the settings.
  runner_write_datasets = toset(["raw", "staging", "intermediate", "marts", "analytics"])

  powerbi_project_roles = toset(["roles/bigquery.jobUser", "roles/bigquery.readSessionUser"])
}

# --- Pipeline runner --------------------------------------------------------------------------

resource "google_bigquery_dataset_iam_member" "runner_writes" {
  for_each = local.runner_write_datasets

  project    = var.project_id
  dataset_id = google_bigquery_dataset.this[each.key].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.runner_member
}

resource "google_project_iam_member" "runner_job_user" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = local.runner_member
}

resource "google_storage_bucket_iam_member" "runner_reads_landing" {
  bucket = google_storage_bucket.landing.name
  role   = "roles/storage.objectViewer"
  member = local.runner_member
}

# --- Power BI reader (revoke: powerbi_reader_enabled = false) ----------------------------------

resource "google_bigquery_dataset_iam_member" "powerbi_reads_analytics" {
  count = var.powerbi_reader_enabled ? 1 : 0

  project    = var.project_id
  dataset_id = google_bigquery_dataset.this["analytics"].dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = local.powerbi_member
}

resource "google_project_iam_member" "powerbi_project_roles" {
  for_each = var.powerbi_reader_enabled ? local.powerbi_project_roles : toset([])

  project = var.project_id
  role    = each.value
  member  = local.powerbi_member
}

# --- Prefect worker ---------------------------------------------------------------------------

resource "google_project_iam_member" "worker_runs_jobs" {
  project = var.project_id
  role    = "roles/run.developer"
  member  = local.worker_member
}

resource "google_service_account_iam_member" "worker_acts_as_runner" {
  service_account_id = google_service_account.pipeline_runner.name
  role               = "roles/iam.serviceAccountUser"
  member             = local.worker_member
}

resource "google_secret_manager_secret_iam_member" "worker_reads_prefect_key" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.prefect_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.worker_member
}
