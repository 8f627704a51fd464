# BigQuery datasets: raw (written by the ingest), every dataset the dbt prod target writes
# (staging, intermediate, marts: private), and analytics, which only the publish step writes,
# after a fully green build. Dataset-level IAM is in iam.tf; no dataset here carries
# an access block, so the additive *_iam_member resources own the dataset policies alone.

locals {
  datasets = {
    raw = {
      description = "Raw daily CSV drops as loaded by the ingest, plus rejected rows and the load audit."
      # Raw tables are partitioned by file date; old partitions expire after the retention.
      partition_expiration_ms = var.raw_partition_retention_days == null ? null : var.raw_partition_retention_days * 24 * 60 * 60 * 1000
    }
    staging = {
      description             = "dbt staging views: typed, renamed and deduplicated raw rows."
      partition_expiration_ms = null
    }
    intermediate = {
      description             = "dbt intermediate incremental models feeding the marts."
      partition_expiration_ms = null
    }
    marts = {
      description             = "dbt builds and tests the marts here (private); the publish step copies them to analytics."
      partition_expiration_ms = null
    }
    analytics = {
      description             = "Published marts read by Power BI: mart_users, mart_content_performance and publish_log."
      partition_expiration_ms = null
    }
  }
}

resource "google_bigquery_dataset" "this" {
  # checkov:skip=CKV_GCP_81:Data is encrypted at rest with Google-managed keys; no requirement calls for customer-managed keys, and a CMEK would add a key whose loss makes the warehouse unreadable.
  for_each = local.datasets

  project       = var.project_id
  dataset_id    = each.key
  friendly_name = each.key
  description   = each.value.description
  location      = var.location

  default_partition_expiration_ms = each.value.partition_expiration_ms

  # Never drop tables together with the dataset, and refuse to destroy the dataset at all:
  # removing a dataset from this configuration must fail the plan, not wipe the warehouse.
  delete_contents_on_destroy = false

  labels = merge(local.labels, { dataset = each.key })

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.this]
}
