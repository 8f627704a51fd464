# Inputs. Every variable is typed, described and, where a wrong value would only fail at apply
# time (or worse, apply quietly), validated.

variable "project_id" {
  description = "Google Cloud project that hosts the warehouse, the landing bucket and the runner."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "environment" {
  description = "Deployment environment; used in labels and resource names."
  type        = string
  default     = "prod"

  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be one of dev, staging, prod."
  }
}

variable "location" {
  description = "Multi-region or region of the BigQuery datasets and the landing bucket (BIGQUERY_LOCATION of the flow)."
  type        = string
  default     = "EU"

  validation {
    condition     = can(regex("^(EU|US|[a-z]+-[a-z]+[0-9])$", var.location))
    error_message = "location must be EU, US or a region such as europe-west1."
  }
}

variable "region" {
  description = "Region of the Cloud Run worker and of the flow-run jobs it starts."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as europe-west1."
  }
}

variable "extra_labels" {
  description = "Labels added to every resource, on top of app/environment/managed-by."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.extra_labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys must start with a lowercase letter; keys and values may hold lowercase letters, digits, _ and - (63 characters at most)."
  }
}

variable "raw_partition_retention_days" {
  description = "Days a partition of a raw table (partitioned by file date) is kept before BigQuery drops it. null keeps raw history forever. A full refresh of the marts can only rebuild what raw still holds."
  type        = number
  default     = 730
  nullable    = true

  validation {
    condition     = var.raw_partition_retention_days == null || (var.raw_partition_retention_days >= 30 && var.raw_partition_retention_days == floor(var.raw_partition_retention_days))
    error_message = "raw_partition_retention_days must be null or a whole number of days, at least 30."
  }
}

variable "landing_bucket_name" {
  description = "Name of the GCS bucket the daily CSV drops land in (under drops/). Defaults to <project_id>-nightjar-landing."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.landing_bucket_name == null || can(regex("^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$", var.landing_bucket_name))
    error_message = "landing_bucket_name must be a valid GCS bucket name (3-63 lowercase letters, digits, dots, hyphens, underscores)."
  }
}

variable "landing_noncurrent_version_days" {
  description = "Days an overwritten or deleted CSV drop is kept as a noncurrent object version (to recover a bad re-delivery)."
  type        = number
  default     = 30

  validation {
    condition     = var.landing_noncurrent_version_days >= 1
    error_message = "landing_noncurrent_version_days must be at least 1."
  }
}

variable "powerbi_reader_enabled" {
  description = "Grant the Power BI reader its BigQuery roles. Set to false and apply to revoke Power BI's access (the account itself is kept)."
  type        = bool
  default     = true
}

# --- Prefect Cloud ---------------------------------------------------------------------------

variable "prefect_account_id" {
  description = "Prefect Cloud account id (UUID). The API key is read from PREFECT_API_KEY, never from a variable."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.prefect_account_id))
    error_message = "prefect_account_id must be a UUID."
  }
}

variable "prefect_workspace_id" {
  description = "Prefect Cloud workspace id (UUID) that holds the work pool, deployment and automation."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", var.prefect_workspace_id))
    error_message = "prefect_workspace_id must be a UUID."
  }
}

variable "work_pool_name" {
  description = "Name of the Prefect work pool (Cloud Run v2 jobs) the nightly deployment runs on."
  type        = string
  default     = "nightjar-cloud-run"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,62}$", var.work_pool_name))
    error_message = "work_pool_name must be lowercase letters, digits and hyphens."
  }
}

variable "git_repository_url" {
  description = "HTTPS URL of this repository; each flow run clones it (pull step) to get the flow and dbt code."
  type        = string

  validation {
    condition     = can(regex("^https://", var.git_repository_url))
    error_message = "git_repository_url must be an https:// URL."
  }
}

variable "git_branch" {
  description = "Branch (or tag) the flow runs clone. Production runs what is on it at run time."
  type        = string
  default     = "main"

  validation {
    condition     = length(var.git_branch) > 0
    error_message = "git_branch must not be empty."
  }
}

variable "git_credentials_block" {
  description = "Optional Prefect template reference to a credentials block for a private repository, e.g. \"{{ prefect.blocks.github-credentials.nightjar }}\". The token lives in Prefect Cloud, not in Terraform state."
  type        = string
  default     = null
  nullable    = true

  validation {
    condition     = var.git_credentials_block == null || can(regex("^\\{\\{ *prefect\\.blocks\\.", var.git_credentials_block))
    error_message = "git_credentials_block must be a Prefect block reference such as {{ prefect.blocks.github-credentials.name }}."
  }
}

variable "flow_image" {
  description = "Container image the flow runs in: Python 3.11 with the project's pinned dependencies installed (pip install '.[bigquery]' -c constraints.txt). The code itself comes from git at run time."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^ ]+$", var.flow_image))
    error_message = "flow_image must be a full image reference such as europe-docker.pkg.dev/<project>/nightjar/flow:<tag>."
  }
}

variable "worker_image" {
  description = "Container image of the Prefect worker service (needs prefect and prefect-gcp)."
  type        = string
  default     = "prefecthq/prefect:3-python3.11"
}

variable "job_cpu" {
  description = "vCPUs of each nightly Cloud Run job (see docs/operations.md, Sizing the nightly job)."
  type        = string
  default     = "2"
}

variable "job_memory" {
  description = "Memory of each nightly Cloud Run job (see docs/operations.md, Sizing the nightly job)."
  type        = string
  default     = "4Gi"
}

variable "job_timeout_seconds" {
  description = "Longest a nightly Cloud Run job may run before Cloud Run stops it."
  type        = number
  default     = 3600
}

variable "schedule_active" {
  description = "Whether the nightly schedule is active. Set false to pause production runs without deleting anything."
  type        = bool
  default     = true
}

variable "alert_emails" {
  description = "Addresses notified when a production flow run fails or crashes."
  type        = list(string)

  validation {
    condition     = length(var.alert_emails) > 0 && alltrue([for e in var.alert_emails : can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", e))])
    error_message = "alert_emails must hold at least one e-mail address."
  }
}
