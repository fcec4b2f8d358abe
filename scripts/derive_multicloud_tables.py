"""Hand-tabulated inputs of scripts/derive_multicloud.py: the regions of the catalog, the
measuring VMs' network caps, Erben et al.'s single-stream measurements, and the GPU instance
types with vendor figures. Every figure names its source; docs/TOPOLOGIES.md explains them.
"""

# Skyplane's measuring VMs: AWS m5.8xlarge, GCP n2-standard-32, Azure Standard_D32_v5.
# send: egress cap towards other regions / the internet; receive: the NIC; Gbit/s.
VM_CAPS_GBPS = {
    # AWS EC2 docs "Amazon EC2 instance network bandwidth": traffic leaving the region may use
    # 50% of the NIC for >= 32 vCPU (m5.8xlarge: 10 Gbit/s NIC -> 5); single flow 5 Gbit/s
    # outside a cluster placement group. The Skyplane README also names ~4-5 Gbit/s as the VM limit.
    "aws": {"send": 5.0, "receive": 10.0, "single_flow": 5.0},
    # GCP docs "Network bandwidth": egress to external IP addresses at most 7 Gbit/s per VM;
    # n2-standard-32 default egress 32 Gbit/s.
    "gcp": {"send": 7.0, "receive": 32.0},
    # Azure Dv5 size table: Standard_D32_v5 expected network bandwidth 16000 Mbit/s.
    "azure": {"send": 16.0, "receive": 16.0},
}

# Erben et al. 2023 (arXiv 2306.03163), GCP n1-standard-8 + T4, April 2023 (the table in
# ../shared/data/README.md): same-zone RTT / 2 as one-way LAN latency, single-stream Gbit/s.
ERBEN_LAN = {
    "gcp-us-central1": (0.33, 6.9),
    "gcp-europe-west1": (0.325, 6.81),
    "gcp-asia-east1": (0.36, 6.79),
    "gcp-australia-southeast1": (0.32, 6.84),
}
# Inter-region single TCP stream (Gbit/s, RTT ms), same source: the window fit's data.
ERBEN_SINGLE_STREAM = [
    (0.21, 103.1),  # US-EU
    (0.13, 157.1),  # US-ASIA
    (0.12, 176.2),  # US-AUS
    (0.08, 253.1),  # EU-ASIA
    (0.07, 272.0),  # EU-AUS
    (0.16, 131.4),  # ASIA-AUS
]

_AWS_EGRESS = "AWS: per source region (aws_transfer_costs.csv, 2022)"
_GCP_EGRESS = "GCP internet egress by source region (cost.csv rows to AWS/Azure, 2022)"
_AZ_EGRESS = "Azure internet egress by source region (cost.csv rows to AWS, 2022)"


def _r(cloud, region, continent, lat, lon, city, key=None, zone=None, egress=None):
    return {"name": f"{cloud}-{region}", "cloud": cloud, "cloud_region": region,
            "zone": zone or region, "continent": continent, "lat": lat, "lon": lon,
            "city": city, "key": key or f"{cloud}:{region}", "egress": egress}


# Region key = the Skyplane name (GCP measured from one zone). Coordinates: approximate metro of
# the provider's published region location (+-50 km), used only for the RTT estimate.
REGIONS = [
    _r("aws", "us-east-1", "north_america", 39.04, -77.49, "Ashburn, Virginia"),
    _r("aws", "us-west-2", "north_america", 45.84, -119.70, "Boardman, Oregon"),
    _r("aws", "eu-west-1", "europe", 53.35, -6.26, "Dublin"),
    _r("aws", "eu-central-1", "europe", 50.11, 8.68, "Frankfurt"),
    _r("aws", "ap-northeast-1", "asia", 35.68, 139.69, "Tokyo"),
    _r("aws", "ap-southeast-1", "asia", 1.35, 103.82, "Singapore"),
    _r("aws", "ap-southeast-2", "oceania", -33.87, 151.21, "Sydney"),
    _r("aws", "sa-east-1", "south_america", -23.55, -46.63, "Sao Paulo"),
    _r("gcp", "us-central1", "north_america", 41.26, -95.86, "Council Bluffs, Iowa",
       key="gcp:us-central1-a", zone="us-central1-a"),
    _r("gcp", "us-east4", "north_america", 39.04, -77.49, "Ashburn, Virginia",
       key="gcp:us-east4-a", zone="us-east4-a"),
    _r("gcp", "europe-west1", "europe", 50.47, 3.82, "St. Ghislain, Belgium",
       key="gcp:europe-west1-b", zone="europe-west1-b"),
    _r("gcp", "europe-west4", "europe", 53.44, 6.83, "Eemshaven, Netherlands",
       key="gcp:europe-west4-a", zone="europe-west4-a"),
    _r("gcp", "asia-east1", "asia", 24.05, 120.52, "Changhua County, Taiwan",
       key="gcp:asia-east1-a", zone="asia-east1-a"),
    _r("gcp", "asia-northeast1", "asia", 35.68, 139.69, "Tokyo",
       key="gcp:asia-northeast1-a", zone="asia-northeast1-a"),
    _r("gcp", "australia-southeast1", "oceania", -33.87, 151.21, "Sydney",
       key="gcp:australia-southeast1-a", zone="australia-southeast1-a"),
    _r("gcp", "southamerica-east1", "south_america", -23.53, -46.79, "Osasco (Sao Paulo)",
       key="gcp:southamerica-east1-a", zone="southamerica-east1-a"),
    _r("azure", "eastus", "north_america", 38.95, -77.45, "Northern Virginia (1.9 ms RTT to AWS us-east-1)"),
    _r("azure", "westus2", "north_america", 47.23, -119.85, "Quincy, Washington"),
    _r("azure", "westeurope", "europe", 52.37, 4.90, "Amsterdam"),
    _r("azure", "northeurope", "europe", 53.35, -6.26, "Dublin"),
    _r("azure", "japaneast", "asia", 35.68, 139.69, "Tokyo"),
    _r("azure", "australiaeast", "oceania", -33.87, 151.21, "Sydney"),
    _r("azure", "centralindia", "asia", 18.52, 73.86, "Pune"),
]

# Cloud-level egress rules ($/GB). Every number is checked against the cost rows by the script.
EGRESS_RULES = {
    "aws": {"same_zone": 0.0, "cross_zone": 0.01, "same_continent": {"default": 0.02},
            "inter_continent": 0.02, "internet": 0.09},
    "gcp": {"same_zone": 0.0, "cross_zone": 0.01,
            "same_continent": {"north_america": 0.01, "europe": 0.02, "asia": 0.05,
                               "south_america": 0.08, "oceania": 0.08},
            "inter_continent": 0.08, "inter_continent_to": {"oceania": 0.15},
            "inter_continent_from": {"oceania": 0.15}, "internet": 0.12, "internet_to": {"oceania": 0.19}},
    "azure": {"same_zone": 0.0, "cross_zone": 0.0,
              "same_continent": {"north_america": 0.02, "europe": 0.02, "asia": 0.08, "oceania": 0.08},
              "inter_continent": 0.05, "inter_continent_from": {"asia": 0.08, "oceania": 0.08},
              "internet": 0.0875},
}
EGRESS_SOURCES = {
    "aws": "Skyplane aws_transfer_costs.csv and cost.csv, 2022 (AWS prices by source region: every "
           "AWS region carries its own inter_region and internet price); cross-zone 0.01 from Erben et "
           "al. 2023 (../shared/data/README.md)",
    "gcp": "Skyplane cost.csv, 2022 (PREMIUM tier): same continent NA 0.01, EU 0.02, Asia 0.05, SA and "
           "Oceania 0.08 (southamerica-west1, australia-southeast2 rows), other continents 0.08, to or "
           "from Oceania 0.15; to other clouds 0.12, to Oceania 0.19, from Tokyo 0.14 and Sydney 0.19 (region "
           "overrides); cross-zone 0.01 from Erben et al. 2023",
    "azure": "Skyplane cost.csv, 2022: same continent 0.02 (NA, EU), from Asia/Oceania 0.08 to any "
             "region, other continents 0.05, other clouds by source region; cross-zone 0 from Erben et "
             "al. 2023. Oceania same-continent 0.08 is the australiaeast rate to every region (unused: one "
             "Azure Oceania region here)",
}

# AWS on-demand $/h, us-east-1: skypilot-org/skypilot-catalog catalogs/v7/aws/vms.csv at commit
# 001367d (lists p5en, launched 2024-12, at pre-2025-06 P5 prices: a snapshot from 2025H1).
AWS_ON_DEMAND = {
    "g4dn.xlarge": 0.526, "g5.xlarge": 1.006, "g5.48xlarge": 16.288, "g6.xlarge": 0.8048,
    "g6.48xlarge": 13.3504, "p3.2xlarge": 3.06, "p3.16xlarge": 24.48, "p4d.24xlarge": 32.7726,
    "p4de.24xlarge": 40.96575, "p5.48xlarge": 98.32, "p5en.48xlarge": 84.8,
}
AWS_PRICE_SOURCE = ("on-demand: skypilot-catalog v7 aws/vms.csv @001367d (2025H1), us-east-1; spot = "
                    "on-demand x (1 - savings) of the AWS Spot Instance Advisor snapshot (spotinfo), 2025-06")
GCP_PRICE_SOURCE = ("skypilot-catalog v7 gcp/vms.csv @017e250 (2025): VM row + GPU row, on-demand and spot, "
                    "in the reference region")
AZURE_PRICE_SOURCE = "skypilot-catalog v6 azure/vms.csv @098741e, eastus, on-demand and spot rows"
GCP_AZ_BAND_SOURCE = ("ASSUMPTION: GCP and Azure publish no per-type interruption rates in the sources; "
                      "assumed the worst AWS band (>20%/month) so spot plans err on the safe side")

# Per-GPU vendor figures: (model, dense FP16/BF16 tensor TFLOP/s, FP32 TFLOP/s, memory GB, source,
# memory bandwidth GB/s, its source).
GPUS = {
    "T4": ("NVIDIA T4", 65.0, 8.1, 16, "NVIDIA T4 datasheet (2019): FP16 mixed precision 65 TFLOPS, FP32 8.1",
           320, "NVIDIA T4 datasheet (2019): 16 GB GDDR6, 320 GB/s"),
    "A10G": ("NVIDIA A10G", 125.0, 31.2, 24,
             "NVIDIA A10 datasheet (2021): FP16 tensor 125 TFLOPS dense, FP32 31.2; AWS A10G is the same "
             "GA102 part and NVIDIA publishes no separate sheet: an upper bound",
             600, "NVIDIA A10 datasheet (2021): 24 GB GDDR6, 600 GB/s; AWS A10G is the same GA102 part with the "
             "same memory (NVIDIA publishes no separate sheet)"),
    "L4": ("NVIDIA L4", 121.0, 30.3, 24, "NVIDIA L4 datasheet (2023): FP16 tensor 242 TFLOPS with sparsity = "
           "121 dense, FP32 30.3", 300, "NVIDIA L4 datasheet (2023): 24 GB GDDR6, 300 GB/s"),
    "V100": ("NVIDIA V100 SXM2 16GB", 125.0, 15.7, 16, "NVIDIA V100 datasheet (2020): tensor 125 TFLOPS, FP32 15.7",
             900, "NVIDIA V100 datasheet (2020): V100 SXM2 HBM2, 900 GB/s"),
    "A100-40": ("NVIDIA A100 SXM4 40GB", 312.0, 19.5, 40,
                "NVIDIA A100 datasheet (2021): BF16/FP16 tensor 312 TFLOPS dense, FP32 19.5",
                1555, "NVIDIA A100 datasheet (2021): A100 40GB SXM HBM2, 1,555 GB/s"),
    "A100-80": ("NVIDIA A100 SXM4 80GB", 312.0, 19.5, 80,
                "NVIDIA A100 datasheet (2021): BF16/FP16 tensor 312 TFLOPS dense, FP32 19.5",
                2039, "NVIDIA A100 datasheet (2021): A100 80GB SXM HBM2e, 2,039 GB/s"),
    "A100-80-PCIe": ("NVIDIA A100 PCIe 80GB", 312.0, 19.5, 80,
                     "NVIDIA A100 datasheet (2021): BF16/FP16 tensor 312 TFLOPS dense, FP32 19.5",
                     1935, "NVIDIA A100 datasheet (2021): A100 80GB PCIe HBM2e, 1,935 GB/s"),
    "H100": ("NVIDIA H100 SXM5 80GB", 989.5, 67.0, 80,
             "NVIDIA H100 datasheet (2023): BF16 tensor 1979 TFLOPS with sparsity = 989.5 dense, FP32 67",
             3350, "NVIDIA H100 datasheet (2023): H100 SXM HBM3, 3.35 TB/s"),
    "H200": ("NVIDIA H200 SXM 141GB", 989.5, 67.0, 141,
             "NVIDIA H200 datasheet (2024): BF16 tensor 1979 TFLOPS with sparsity = 989.5 dense, FP32 67",
             4800, "NVIDIA H200 datasheet (2024): H200 SXM 141 GB HBM3e, 4.8 TB/s"),
}
UTILIZATION = {"inference": 0.35, "training": 0.40}
UTILIZATION_SOURCE = ("ASSUMPTION: achieved fraction of dense peak in training (model FLOPs utilization "
                      "~0.35 on inference-class GPUs, ~0.40 on training GPUs); override per scenario")


def _i(name, cloud, gpu, count, nic, nic_src, util, region, od=None, spot=None, price_src=None):
    return {"name": name, "cloud": cloud, "gpu": gpu, "gpus": count, "nic_Gbps": nic, "nic_source": nic_src,
            "utilization": UTILIZATION[util], "reference_region": region, "on_demand": od, "spot": spot,
            "price_source": price_src}


_EC2 = "AWS EC2 accelerated computing instance specifications (per-type network figure, unchanged since launch)"
_GCE = "GCP accelerator-optimized machine family docs (max network bandwidth, unchanged since launch)"
_AZ = "Azure VM size docs (unchanged since launch)"
INSTANCES = [
    _i("g4dn.xlarge", "aws", "T4", 1, 25, f"{_EC2}: up to 25 Gbit/s", "inference", "us-east-1"),
    _i("g5.xlarge", "aws", "A10G", 1, 10, f"{_EC2}: up to 10 Gbit/s", "inference", "us-east-1"),
    _i("g5.48xlarge", "aws", "A10G", 8, 100, f"{_EC2}: 100 Gbit/s", "inference", "us-east-1"),
    _i("g6.xlarge", "aws", "L4", 1, 10, f"{_EC2}: up to 10 Gbit/s", "inference", "us-east-1"),
    _i("g6.48xlarge", "aws", "L4", 8, 100, f"{_EC2}: 100 Gbit/s", "inference", "us-east-1"),
    _i("p3.2xlarge", "aws", "V100", 1, 10, f"{_EC2}: up to 10 Gbit/s", "training", "us-east-1"),
    _i("p3.16xlarge", "aws", "V100", 8, 25, f"{_EC2}: 25 Gbit/s", "training", "us-east-1"),
    _i("p4d.24xlarge", "aws", "A100-40", 8, 400, f"{_EC2}: 400 Gbit/s EFA", "training", "us-east-1"),
    _i("p4de.24xlarge", "aws", "A100-80", 8, 400, f"{_EC2}: 400 Gbit/s EFA", "training", "us-east-1"),
    _i("p5.48xlarge", "aws", "H100", 8, 3200, f"{_EC2}: 3200 Gbit/s EFA", "training", "us-east-1"),
    _i("p5en.48xlarge", "aws", "H200", 8, 3200, f"{_EC2}: 3200 Gbit/s EFA", "training", "us-east-1"),
    _i("n1-standard-8-t4", "gcp", "T4", 1, 16, "GCP egress cap of 2 Gbit/s per vCPU x 8 vCPU", "inference",
       "us-west (zone not named by the source)", 0.572, 0.180,
       "Erben et al. 2023 (arXiv 2306.03163), GC T4 on-demand / spot, April 2023"),
    _i("a2-highgpu-1g", "gcp", "A100-40", 1, 24, f"{_GCE}: 24 Gbit/s", "training", "us-central1",
       round(0.73948 + 2.93391, 5), round(0.29576 + 1.1472, 5), f"{GCP_PRICE_SOURCE}: VM 0.73948/0.29576 + "
       "1 A100 2.93391/1.1472"),
    _i("a2-highgpu-8g", "gcp", "A100-40", 8, 100, f"{_GCE}: 100 Gbit/s", "training", "us-central1",
       round(5.91582 + 23.47126, 5), round(2.36604 + 9.1776, 5), f"{GCP_PRICE_SOURCE}: VM 5.91582/2.36604 + "
       "8 A100 23.47126/9.1776"),
    _i("a2-ultragpu-8g", "gcp", "A100-80", 8, 100, f"{_GCE}: 100 Gbit/s", "training", "us-east5",
       round(8.79698 + 35.39358, 5), round(2.26848 + 10.0576, 5), f"{GCP_PRICE_SOURCE}: VM 8.79698/2.26848 + "
       "8 A100-80GB 35.39358/10.0576 (us-east5: the us-central1 GPU row, 1.85/GPU, is below the 40 GB "
       "A100's and looks like another SKU)"),
    _i("a3-highgpu-8g", "gcp", "H100", 8, 1000, f"{_GCE}: up to 1000 Gbit/s (GPUDirect-TCPX)", "training",
       "us-east4", round(9.46006 + 78.37241, 5), round(1.70352 + 14.1056, 5),
       f"{GCP_PRICE_SOURCE}: VM 9.46006/1.70352 + 8 H100 78.37241/14.1056 (us-east4: the us-central1 GPU row "
       "is an outlier at 33.61 for 8 GPUs)"),
    _i("a3-ultragpu-8g", "gcp", "H200", 8, 3600, f"{_GCE}: 3600 Gbit/s (GPU RDMA)", "training", "us-central1",
       round(12.266 + 74.49392, 5), round(2.82111 + 29.7976, 5), f"{GCP_PRICE_SOURCE}: VM 12.266/2.82111 + "
       "8 H200 74.49392/29.7976"),
    _i("Standard_NC4as_T4_v3", "azure", "T4", 1, 8, f"{_AZ}: NCasT4_v3, 8000 Mbit/s", "inference", "eastus",
       0.526, 0.062699, AZURE_PRICE_SOURCE),
    _i("Standard_NC24ads_A100_v4", "azure", "A100-80-PCIe", 1, 20, f"{_AZ}: NC A100 v4, 20000 Mbit/s",
       "training", "eastus", 3.673, 0.444433, AZURE_PRICE_SOURCE),
    _i("Standard_ND96asr_v4", "azure", "A100-40", 8, 1600, f"{_AZ}: ND A100 v4, 8 x 200 Gbit/s HDR InfiniBand",
       "training", "eastus", 27.197, 2.99167, AZURE_PRICE_SOURCE),
    _i("Standard_ND96amsr_A100_v4", "azure", "A100-80", 8, 1600,
       f"{_AZ}: NDm A100 v4, 8 x 200 Gbit/s HDR InfiniBand", "training", "eastus", 32.77, 3.6047,
       AZURE_PRICE_SOURCE),
    _i("Standard_ND96isr_H100_v5", "azure", "H100", 8, 3200, f"{_AZ}: ND H100 v5, 8 x 400 Gbit/s NDR InfiniBand",
       "training", "eastus", 98.32, 98.32, f"{AZURE_PRICE_SOURCE} (the source's spot column equals on-demand: "
       "no spot discount offered)"),
]
