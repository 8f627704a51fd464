# Landing bucket for the daily CSV drops: gs://<bucket>/drops/<table>/<YYYY-MM-DD>.csv.
# Uniform bucket-level access (IAM only, no ACLs), public access prevented, versioned so a bad
# re-delivery can be rolled back. Who may read it is in iam.tf.

locals {
  landing_bucket_name = coalesce(var.landing_bucket_name, "${var.project_id}-nightjar-landing")
  landing_source_dir  = "gs://${google_storage_bucket.landing.name}/drops"
}

resource "google_storage_bucket" "landing" {
  # checkov:skip=CKV_GCP_62:Object reads are recorded by Cloud Audit Logs (Data Access); a second, legacy usage-log bucket would only duplicate them.
  name     = local.landing_bucket_name
  project  = var.project_id
  location = var.location

  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.landing_noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  labels = local.labels

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.this]
}
