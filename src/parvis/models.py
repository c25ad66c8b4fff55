"""Every table of Parvis in one metadata, for Alembic and for tests."""

from parvis.kernel import audit, jobs  # noqa: F401
from parvis.kernel.db import Base
from parvis.kernel.notify import models as notify_models  # noqa: F401
from parvis.modules.accounts import models as accounts_models  # noqa: F401
from parvis.modules.alerts import models as alerts_models  # noqa: F401
from parvis.modules.city import models as city_models  # noqa: F401
from parvis.modules.reports import models as reports_models  # noqa: F401
from parvis.modules.sensors import aggregate_models as sensors_aggregate_models  # noqa: F401
from parvis.modules.sensors import event_models as sensors_event_models  # noqa: F401
from parvis.modules.sensors import models as sensors_models  # noqa: F401
from parvis.modules.sensors import subscription_models as sensors_subscription_models  # noqa: F401
from parvis.modules.twin import models as twin_models  # noqa: F401
from parvis.modules.twin import owner_models as twin_owner_models  # noqa: F401

metadata = Base.metadata
