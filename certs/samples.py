"""Valid sample data for each shipped licence type (tests, demos, docs renders).

Identifiers are computed with ``make_uscc`` / ``make_resident_id``, so they carry valid
check characters without belonging to anyone real (except the published GB examples).
The issuing authority (登记机关, 发证机关) is left out: issuance fills in the department
that seals the licence, whichever it is.
"""

from __future__ import annotations

import copy
from typing import Any

from certs.identifiers import make_resident_id, make_uscc

SAMPLE_ISSUER_USCC = make_uscc("11350100MB0000003")
SAMPLE_ISSUER_NAME = "福州市市场监督管理局"

_SAMPLES: dict[str, dict[str, Any]] = {
    "yyzz": {
        "名称": "福州闽江数字科技有限公司",
        "统一社会信用代码": "91350100M000100Y43",
        "类型": "有限责任公司（自然人投资或控股）",
        "法定代表人": "林海峰",
        "注册资本": "壹仟万圆整",
        "成立日期": "2015-03-01",
        "营业期限": {"起": "2015-03-01", "止": "长期"},
        "经营范围": "软件开发；信息系统集成服务；信息技术咨询服务；数据处理和存储支持服务；"
                    "计算机系统服务；网络与信息安全软件开发；人工智能应用软件开发。"
                    "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）",
        "住所": "福建省福州市鼓楼区五四路158号环球广场20层",
        "登记日期": "2024-05-01",
    },
    "spjyxkz": {
        "经营者名称": "福州榕城味道餐饮管理有限公司",
        "统一社会信用代码": make_uscc("91350102MA2Y0K1R0"),
        "法定代表人（负责人）": "陈雅琴",
        "住所": "福建省福州市鼓楼区东街88号",
        "经营场所": "福建省福州市鼓楼区东街88号一层、二层",
        "主体业态": "餐饮服务经营者",
        "经营项目": "热食类食品制售；冷食类食品制售（不含生食类）；糕点类食品制售（不含裱花蛋糕）；"
                    "自制饮品制售（不含自酿酒）",
        "许可证编号": "JY23501020012345",
        "有效期至": "2029-04-30",
        "日常监督管理机构": "鼓楼区市场监督管理局东街所",
        "日常监督管理人员": "王建国、李明",
        "投诉举报电话": "12315",
        "签发人": "张卫东",
        "发证日期": "2024-05-01",
    },
    "zyzgzs": {
        "姓名": "王晓燕",
        "性别": "女",
        "公民身份号码": make_resident_id("35010219900512002"),
        "出生日期": "1990-05-12",
        "职业（工种）": "电工",
        "等级": "三级/高级工",
        "理论知识考试成绩": "86",
        "操作技能考核成绩": "91",
        "证书编号": "2435010000301234",
        "发证日期": "2024-05-01",
    },
}


def sample_licence_data(type_code: str) -> dict[str, Any]:
    """A fresh copy of valid data for a shipped type."""
    return copy.deepcopy(_SAMPLES[type_code])


def sample_type_codes() -> list[str]:
    return sorted(_SAMPLES)
