"""Store staff at the kiosk: staff records from central, badge then PIN, staff mode, its gate, the audit of
every staff action, and this device's open staff-assist calls. One concept per module:

- :mod:`.records`: central's ``staff`` push applied, and looking a member up;
- :mod:`.pin`: argon2id PIN verifiers, their parameters and checking a PIN;
- :mod:`.lockout`: wrong PINs per badge and the badge's lock (5 wrong: 5 minutes, doubling), in SQLite;
- :mod:`.audit`: ``event/staff-audit`` (critical) and the device's last actions for managers;
- :mod:`.mode`: a staff badge's session: PIN pad, staff mode, its end;
- :mod:`.gate`: "this session is in staff mode with this role", for every staff request's handler;
- :mod:`.calls`: the staff-assist calls made at this device, and marking one handled;
- :mod:`.service`: the pieces together (``agent.staff``) and their requests.
"""

from .gate import StaffGate, StaffMember
from .service import StaffService

__all__ = ["StaffGate", "StaffMember", "StaffService"]
