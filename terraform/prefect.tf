# Prefect Cloud: the work pool, the worker that serves it, the nightly deployment, its 02:00
# schedule and the failure alert. This is the only definition of the deployment and the
# schedule: there is deliberately no prefect.yaml (a second definition would drift).
#
# Credentials, without a key in Terraform state:
# - The worker is a Cloud Run service running as the prefect-worker service account. It reads
#   the Prefect API key from Secret Manager; Terraform creates the empty secret, the key value
#   is added out of band (gcloud secrets versions add), so it never enters state.
# - Each flow run is a Cloud Run job started by the worker with service_account_name = the
#   pipeline runner. BigQuery and GCS clients inside the job use Application Default
#   Credentials from the metadata server: short-lived tokens, nothing to rotate or leak.

locals {
  # The deployment's one definition, shared with tools/deploy.py (nox -s prefect registers it
  # on a local Prefect server and runs it): entrypoint, tags, schedule, concurrency, env.
  deployment = jsondecode(file("${path.module}/deployment.json"))

  prefect_api_url = "https://api.prefect.cloud/api/accounts/${var.prefect_account_id}/workspaces/${var.prefect_workspace_id}"

  # Parameters of flows/daily_pipeline.py:daily_pipeline for the scheduled runs. run_date is
  # left to the flow's default (yesterday). A structural test checks the flow accepts them.
  deployment_parameters = {
    target     = "prod"
    source_dir = local.landing_source_dir
  }
}

# --- Worker -----------------------------------------------------------------------------------

resource "google_secret_manager_secret" "prefect_api_key" {
  project   = var.project_id
  secret_id = "nightjar-prefect-api-key"

  replication {
    auto {}
  }

  labels = local.labels

  depends_on = [google_project_service.this]
}

resource "google_cloud_run_v2_service" "prefect_worker" {
  name                = "nightjar-prefect-worker"
  project             = var.project_id
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false

  template {
    service_account = google_service_account.prefect_worker.email

    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }

    containers {
      image = var.worker_image
      args  = ["prefect", "worker", "start", "--pool", prefect_work_pool.this.name, "--type", "cloud-run-v2", "--with-healthcheck"]

      env {
        name  = "PREFECT_API_URL"
        value = local.prefect_api_url
      }
      env {
        name = "PREFECT_API_KEY"
        value_source {
          secret_key_ref {
            secret  = google_secret_manager_secret.prefect_api_key.secret_id
            version = "latest"
          }
        }
      }
      env {
        name  = "EXTRA_PIP_PACKAGES"
        value = "prefect-gcp"
      }
      env {
        name  = "PREFECT_WORKER_WEBSERVER_HOST"
        value = "0.0.0.0"
      }
      env {
        name  = "PREFECT_WORKER_WEBSERVER_PORT"
        value = "8080"
      }

      ports {
        container_port = 8080
      }

      resources {
        cpu_idle = false # the worker polls Prefect Cloud; it must keep its CPU between requests
        limits = {
          cpu    = "1"
          memory = "1Gi"
        }
      }
    }
  }

  labels = local.labels

  depends_on = [
    google_project_service.this,
    google_secret_manager_secret_iam_member.worker_reads_prefect_key,
  ]
}

# --- Work pool, flow, deployment ----------------------------------------------------------------

data "prefect_worker_metadata" "this" {}

resource "prefect_work_pool" "this" {
  name              = var.work_pool_name
  type              = "cloud-run-v2"
  description       = "Nightjar flow runs as Cloud Run jobs in ${var.project_id}."
  paused            = false
  base_job_template = data.prefect_worker_metadata.this.base_job_configs.cloud_run_v2
}

resource "prefect_flow" "daily_pipeline" {
  name = local.deployment.flow_name
  tags = local.deployment.tags
}

resource "prefect_deployment" "daily_pipeline" {
  name        = "nightly-${var.environment}"
  description = local.deployment.description
  flow_id     = prefect_flow.daily_pipeline.id
  entrypoint  = local.deployment.entrypoint
  tags        = concat(local.deployment.tags, [var.environment])

  work_pool_name  = prefect_work_pool.this.name
  work_queue_name = "default"

  parameters = jsonencode(local.deployment_parameters)
  # Generated from the flow's signature (python -m tools.parameter_schema; a test keeps it
  # current): the server validates every run's parameters and the UI shows a form.
  parameter_openapi_schema = file("${path.module}/daily_pipeline.parameters.json")
  enforce_parameter_schema = local.deployment.enforce_parameter_schema

  # One run at a time; a run due while another runs waits for it (the flow also takes a
  # lock on the warehouse, flows/run_lock.py).
  concurrency_limit = local.deployment.concurrency_limit
  concurrency_options = {
    collision_strategy = local.deployment.collision_strategy
  }

  job_variables = jsonencode({
    image                = var.flow_image
    region               = var.region
    service_account_name = google_service_account.pipeline_runner.email
    # Sized for the largest daily file: see "Sizing the nightly job" in docs/operations.md.
    cpu     = var.job_cpu
    memory  = var.job_memory
    timeout = var.job_timeout_seconds
    env = merge(local.deployment.env, {
      NIGHTJAR_TARGET   = "prod"
      BIGQUERY_PROJECT  = var.project_id
      BIGQUERY_LOCATION = var.location
    })
  })

  # The code comes from git at run time; the image only carries the pinned dependencies.
  pull_steps = [
    {
      type        = "git_clone"
      repository  = var.git_repository_url
      branch      = var.git_branch
      credentials = var.git_credentials_block
    },
  ]
}

resource "prefect_deployment_schedule" "nightly" {
  deployment_id = prefect_deployment.daily_pipeline.id
  active        = var.schedule_active
  cron          = local.deployment.cron
  timezone      = local.deployment.timezone
}

# --- Alerting -----------------------------------------------------------------------------------

resource "prefect_block" "alert_emails" {
  name      = "nightjar-${var.environment}-alerts"
  type_slug = "email"
  data      = jsonencode({ emails = var.alert_emails })
}

resource "prefect_automation" "flow_run_failed" {
  name        = "nightjar-${var.environment}: nightly run failed or crashed"
  description = "Notify the on-call addresses when a run of the nightly deployment ends Failed or Crashed."
  enabled     = true

  trigger = {
    event = {
      posture = "Reactive"
      expect  = ["prefect.flow-run.Failed", "prefect.flow-run.Crashed"]
      match = jsonencode({
        "prefect.resource.id" = "prefect.flow-run.*"
      })
      match_related = jsonencode({
        "prefect.resource.id"   = "prefect.deployment.${prefect_deployment.daily_pipeline.id}"
        "prefect.resource.role" = "deployment"
      })
      for_each  = ["prefect.resource.id"]
      threshold = 1
      within    = 0
    }
  }

  actions = [
    {
      type              = "send-notification"
      block_document_id = prefect_block.alert_emails.id
      subject           = "Nightjar nightly run {{ event.resource['prefect.resource.name'] }}: {{ flow_run.state.name }}"
      body              = "Flow run {{ flow_run.name }} of {{ deployment.name }} ended {{ flow_run.state.name }}: {{ flow_run.state.message }}. Backfill instructions: docs/operations.md."
    },
  ]
}
