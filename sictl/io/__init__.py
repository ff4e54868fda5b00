"""File formats: the only part of sictl that touches h5py and safetensors.

Every format is documented in ``docs/file-formats.md``. Writers are atomic (temporary file, then
rename) and accept ``-`` for stdout; readers validate kind, version, shapes and finiteness, accept
``-`` for stdin, and raise :class:`~sictl.errors.SchemaError` naming the file and the fix.
"""

from sictl.io._files import atomic_output as atomic_output
from sictl.io._files import check_writable as check_writable
from sictl.io._files import description_checksum as description_checksum
from sictl.io._files import file_checksum as file_checksum
from sictl.io._files import OutputGroup as OutputGroup
from sictl.io._files import check_distinct as check_distinct
from sictl.io._files import output_group as output_group
from sictl.io.signals import cleanup_on_signals as cleanup_on_signals
from sictl.io._h5 import H5_OPTS as H5_OPTS
from sictl.io._h5 import SCHEMA_VERSION as SCHEMA_VERSION
from sictl.io._h5 import Provenance as Provenance
from sictl.io._h5 import open_input as open_input
from sictl.io._h5 import read_provenance as read_provenance
from sictl.io.checkpoints import load_checkpoint as load_checkpoint
from sictl.io.checkpoints import load_torch_tensors as load_torch_tensors
from sictl.io.checkpoints import read_checkpoint_config as read_checkpoint_config
from sictl.io.checkpoints import save_checkpoint as save_checkpoint
from sictl.io.dataset_writer import DatasetWriter as DatasetWriter
from sictl.io.dataset_writer import write_dataset as write_dataset
from sictl.io.datasets import SOURCES as SOURCES
from sictl.io.datasets import DatasetFile as DatasetFile
from sictl.io.datasets import DatasetMeta as DatasetMeta
from sictl.io.datasets import DatasetStats as DatasetStats
from sictl.io.datasets import Normalization as Normalization
from sictl.io.datasets import iter_dataset_batches as iter_dataset_batches
from sictl.io.datasets import iter_pair_batches as iter_pair_batches
from sictl.io.datasets import iter_trajectory_blocks as iter_trajectory_blocks
from sictl.io.datasets import load_dataset_array as load_dataset_array
from sictl.io.datasets import read_dataset as read_dataset
from sictl.io.reports import ReportFile as ReportFile
from sictl.io.reports import read_report as read_report
from sictl.io.reports import write_report as write_report
from sictl.io.samples import SamplesFile as SamplesFile
from sictl.io.samples import SamplesMeta as SamplesMeta
from sictl.io.samples import SamplesWriter as SamplesWriter
from sictl.io.samples import count_nonfinite as count_nonfinite
from sictl.io.samples import iter_samples_batches as iter_samples_batches
from sictl.io.samples import load_samples_array as load_samples_array
from sictl.io.samples import read_samples as read_samples
from sictl.io.samples import write_samples as write_samples
from sictl.io.schedules import ScheduleTable as ScheduleTable
from sictl.io.schedules import export_schedule_csv as export_schedule_csv
from sictl.io.schedules import export_schedule_json as export_schedule_json
from sictl.io.schedules import read_schedule as read_schedule
from sictl.io.schedules import validate_schedule as validate_schedule
from sictl.io.schedules import write_schedule as write_schedule
from sictl.io.mixtures import mixture_from_json as mixture_from_json
from sictl.io.mixtures import read_mixture as read_mixture
from sictl.io.field_mixtures import dataset_field_mixture as dataset_field_mixture
from sictl.io.field_mixtures import read_field_mixture as read_field_mixture
from sictl.io.grids import read_grid_design as read_grid_design
from sictl.io.grids import read_time_grid as read_time_grid
from sictl.io.runs import DatasetRows as DatasetRows
from sictl.io.forecasts import ForecastsWriter as ForecastsWriter
from sictl.io.forecasts import read_forecasts as read_forecasts
from sictl.io.runs import LogWriter as LogWriter
from sictl.io.runs import PairRows as PairRows
from sictl.io.runs import RunCheckpoint as RunCheckpoint
from sictl.io.runs import prepare_run_dir as prepare_run_dir
from sictl.io.runs import read_log as read_log
from sictl.io.runs import read_run_checkpoint as read_run_checkpoint
from sictl.io.runs import read_training_state as read_training_state
from sictl.io.runs import run_paths as run_paths
from sictl.io.runs import write_run_checkpoint as write_run_checkpoint
from sictl.io.runs import write_training_state as write_training_state
from sictl.io.diffusion_tables import is_diffusion_table as is_diffusion_table
from sictl.io.diffusion_tables import read_diffusion_table as read_diffusion_table
