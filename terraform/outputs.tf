output "dataset_ids" {
  description = "BigQuery datasets provisioned for the pipeline, by name."
  value       = { for k, d in google_bigquery_dataset.this : k => d.dataset_id }
}

output "landing_source_dir" {
  description = "The flow's source_dir in production: where the daily CSV drops must be uploaded."
  value       = local.landing_source_dir
}

output "pipeline_runner_email" {
  description = "Service account the flow runs as (Cloud Run job identity)."
  value       = google_service_account.pipeline_runner.email
}

output "powerbi_reader_email" {
  description = "Service account Power BI connects as."
  value       = google_service_account.powerbi_reader.email
}

output "prefect_worker_email" {
  description = "Service account of the Prefect worker service."
  value       = google_service_account.prefect_worker.email
}

output "prefect_api_key_secret" {
  description = "Secret Manager secret that must hold the worker's Prefect API key (add a version out of band)."
  value       = google_secret_manager_secret.prefect_api_key.id
}

output "prefect_work_pool" {
  description = "Prefect work pool the nightly deployment runs on."
  value       = prefect_work_pool.this.name
}

output "prefect_deployment_id" {
  description = "Id of the nightly Prefect deployment (prefect deployment run daily-pipeline/<name>)."
  value       = prefect_deployment.daily_pipeline.id
}

output "prefect_deployment_name" {
  description = "Full name of the nightly deployment, as the Prefect CLI expects it."
  value       = "${prefect_flow.daily_pipeline.name}/${prefect_deployment.daily_pipeline.name}"
}
